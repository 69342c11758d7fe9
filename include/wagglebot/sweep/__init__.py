"""What each task of the produce_shorts sweep does, runnable and testable without Airflow:
`batch` claims and finishes, `stages` does the work, `runner` runs a stage over a batch.

A sweep claims a batch of APPROVED posts, then runs each stage over the whole
batch (so the LLM is loaded once per sweep, not once per post). Files live at
fixed paths per post under the media folder; the tasks hand each other those
paths (XCom), never file contents.

Failure handling, per post: an error that retrying cannot fix (the engine
refused the post's script, nothing to say) fails the post at once; any other
error keeps the post for a retry of the task, and fails it with its real error
only on the task's last try. A retry skips the posts this sweep already got
through the stage, so a rerun writes no second file or row.

Script review (WAGGLE_SCRIPT_REVIEW, on by default): a new script stops its post
at SCRIPTED for a person to read and edit; once they approve it the post is
queued again and the next sweep voices and renders the approved text.
"""
