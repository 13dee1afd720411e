"""Add-ons loaded by the Rasa server: NLU components, policies, NLG, stores, channels."""
