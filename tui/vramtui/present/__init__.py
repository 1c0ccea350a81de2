"""What the CLI and the app both show, written once: sentences, table cells and labels made
from the core's results. Plain strings and Rich `Text`; no Textual, no printing."""
