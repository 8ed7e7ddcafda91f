"""Audio stage: decode speech to 16 kHz mono, then time its loudness, pitch, voicing, speech
activity, words, phones and visemes.

    from talkingface.audio import load_audio, analyse_audio
    track = analyse_audio(load_audio("speech.mp3"), transcript="Hello there.")
    track.phones[:3]   # (TimedPhone('SIL', 0.0, 0.21), TimedPhone('HH', 0.21, 0.27), ...)

Modules: ``decode`` (files and arrays -> ``Audio``), ``features`` (100 frames/s acoustic
features, voice activity), ``text`` (transcript normalisation), ``phones`` (pocketsphinx
recognition and forced alignment of one span), ``align`` (which spans, recognised or given
words), ``visemes`` (phone -> viseme table), ``track`` (``analyse_audio``).

Speed on a 2-core CPU: acoustic only ~600x real time, with a transcript ~40x, recognising the
words ~20x.
"""

from talkingface.audio.decode import SAMPLE_RATE, Audio, audio_from_array, load_audio
from talkingface.audio.phones import TimedPhone, TimedWord
from talkingface.audio.track import AudioTrack, analyse_audio
from talkingface.audio.visemes import VISEMES, TimedViseme, phones_to_visemes

__all__ = [
    "SAMPLE_RATE", "Audio", "AudioTrack", "TimedPhone", "TimedViseme", "TimedWord", "VISEMES",
    "analyse_audio", "audio_from_array", "load_audio", "phones_to_visemes",
]
