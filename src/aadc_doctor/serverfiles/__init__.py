"""Files a server's own tools write (``reg export`` text): parsers shared by `collect` and `analyze`."""
