"""Running a launch from chat: the command grammar (pure), who a chat user is, and the commands carried out
through the same services as the API (the Slack endpoint in ``server.slack`` only translates)."""
