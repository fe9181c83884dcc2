@echo off
rem aadc-doctor for Windows: runs the bundled Python (python\python.exe beside this file) on the tool.
rem Works from cmd and PowerShell, from any folder, in a path with spaces; the exit code is the tool's.
setlocal
"%~dp0python\python.exe" -m aadc_doctor %*
exit /b %ERRORLEVEL%
