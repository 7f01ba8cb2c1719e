import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line itself is imported
    print("aura-lab: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
