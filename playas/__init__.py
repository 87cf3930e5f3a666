"""playas: play games as a particular person.

One shared policy per game holds the skill; each person is a small style vector that routes
Multi-Head Adapter Routing (MHR) adapters over it.
"""

__version__ = "0.1.0"
