"""The assistant's core: what neither Rasa nor the action server's SDK is needed for.

Everything here can be imported by the Rasa plug-ins (addons/), the action server
(actions/), the worker, the web server and the staff tools; it imports none of them.
"""
