import sys

from aadc_doctor.cli import main

sys.exit(main())
