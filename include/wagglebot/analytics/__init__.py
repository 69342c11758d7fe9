"""What the channel learns from its own Shorts: figures read back from YouTube, an
expected-views model, the hours to publish at."""
