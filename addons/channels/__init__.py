"""The Rasa server's input channels, one module each as Rasa lays out its own
(rasa/core/channels/), named by their class path in credentials.yml:

- rest.py: GuardedRestInput, Rasa's REST channel behind input checks;
- webchat.py: WebChatInput, Rasa's socket.io channel for the web widget, its room bug fixed;
- twilio.py: TwilioChannel, SMS and WhatsApp, signatures verified;
- callback.py: CallbackChannel, any other platform, replies POSTed to CALLBACK_URL.

What they share: checks.py (input checks), system_replies.py (the replies a channel sends
itself, from domain/system.yml), errors.py; the Twilio channel's parts: sms_format.py,
twilio_client.py, opt_outs.py (stored through clinic.store).
"""
