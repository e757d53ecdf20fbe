"""The one boto3 gateway: sessions, error translation, call counting, the template bucket."""
