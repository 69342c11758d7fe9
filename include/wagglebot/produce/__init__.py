"""What each task of the produce_shorts sweep does, runnable and testable without Airflow:
`batch` claims and finishes, `stages` does the work, `runner` runs a stage over a batch.

A sweep claims a batch of APPROVED posts, then runs each stage over the whole
batch (so the LLM is loaded once per sweep, not once per post). Files live at
fixed paths per post under the media folder (wagglebot.core.post_files); the tasks
hand each other those paths (XCom), never file contents.
"""
