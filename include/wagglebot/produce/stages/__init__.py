"""The production stages (LLM script, TTS, render), each usable and testable on its own."""
