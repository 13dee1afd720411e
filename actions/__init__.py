"""Custom actions for the vein clinic assistant (run by the Rasa action server)."""
