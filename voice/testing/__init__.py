"""Test support that ships with the package: tiny Kaldi model, Twilio simulator, fakes.

It lives in the package (not under tests/) because the latency benchmark
uses the same simulator and fakes as the test-suite.
"""
