"""Phone callbot gateway: Twilio Media Streams <-> Vosk <-> Rasa <-> TTS.

Run with ``python -m voice``; see docs/voice.md.  Modules: ``config``
(settings), ``audio`` (μ-law, resampling), ``asr`` (streaming Vosk),
``tts`` (pluggable speech output), ``dialogue`` (Rasa client, voice style),
``call`` (per-call state machine and player), ``twilio_rest`` (call
redirect, SMS), ``app`` (HTTP/WebSocket endpoints), ``fetch_models``
(``make models``).  ``voice.testing`` holds the tiny Kaldi model generator
and the Twilio/Rasa stand-ins used by the tests and the benchmark.
"""
