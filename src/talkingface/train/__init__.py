"""Training of talkingface's motion models on real talking videos (``python -m talkingface.train``).

``dataset`` turns videos into (audio features, phones, captured motion) on a 100 frames/s grid;
``fit`` trains a model; ``__main__`` is the reproducible command that writes the committed weights.
Nothing here runs at render time.
"""
