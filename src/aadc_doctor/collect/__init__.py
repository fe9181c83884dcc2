"""`collect`: gather on the server everything the offline analysers read, into one zip with a manifest.

``system.py`` is the only place that touches Windows (registry, netsh, reg, wevtutil, sc, environment folders);
``gather.py`` decides what to take and is tested on any OS with the test double in ``system.py``.
"""
