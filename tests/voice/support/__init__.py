"""Test-only code for the phone gateway: Twilio simulator, tiny Kaldi model builder, fakes, WER.

It lives in the test tree, not in the product package: production never imports it.
"""
