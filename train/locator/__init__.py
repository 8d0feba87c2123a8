"""The face locator's training: its preset (``model``), targets (``targets``), loss (``loss``), data from the
generated frames (``data``) and the run that ties them to ``fer-edge train`` (``session``)."""
