"""The inspection benchmark (``make bench``): Opskeeper against a hand-written playbook.

See bench/run.py for what it runs and measures, and the README's "Performance" section for
the figures it produced.
"""
