"""Phone callbot gateway: Twilio Media Streams <-> Vosk <-> Rasa <-> TTS.

Run with ``python -m voice``; see docs/voice.md.  Modules: ``config``
(settings), ``audio`` (μ-law, resampling), ``asr`` (streaming Vosk),
``tts`` (pluggable speech output), ``dialogue`` (Rasa client, validated payloads),
``speech`` (what a caller hears, composed from the payload facts),
``call`` (per-call state machine and player), ``twilio_rest`` (call
redirect, SMS, SMS guard), ``app`` (HTTP/WebSocket endpoints), ``say``
(``python -m voice say``: one turn as a caller hears it).  The test-only
simulator, tiny Kaldi model and fakes live in ``tests/voice/support``.
"""
