"""nagare-admin and its commands (entry-point group `nagare.commands`)."""
