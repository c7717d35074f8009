"""The demo application: `nagare-admin serve demo`."""
