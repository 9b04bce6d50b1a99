"""The tasks a sample can ask for; datasets, model and metrics share them."""
TASKS = ('det', 'seg', 'vqa')
