"""The Models page and the pieces the rest of the app shares from it.

- library_host.py: `LibraryHost`, the one scan of the models on this machine (on a worker thread),
  which the Models page and every model chooser (Chat, Compare, Evaluate) read;
- page.py: `ModelsPage`, the table of found models with Open, Refresh and added folders;
- download_dialog.py + download_worker.py: downloads from the Hugging Face Hub with progress,
  speed, time left and Cancel, on a worker thread;
- choosers.py: offers the library in the app's model choosers.
The finding, describing and downloading itself is `engine.library`; nothing here reads model files.
"""
