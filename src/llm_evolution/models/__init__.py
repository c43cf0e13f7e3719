"""The models of each era, one small module each: bigram (chapter 1), then rnn, transformer,
bert and gpt in the chapters that introduce them."""
