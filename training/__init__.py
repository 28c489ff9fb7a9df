"""Training, tuning and evaluation scripts that write the shipped models and their JSON cards into weights/."""
