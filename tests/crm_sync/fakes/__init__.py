"""Fake CRMs speaking real HTTP on loopback, each enforcing its vendor's contract.

Every fake is a FakeServer: a threaded HTTP server started in the background, with a lock-guarded
store of contacts, a log of requests, and switches for the faults the tests need (down, slow,
a queue of forced answers such as 429 with Retry-After or 500).
"""
