"""The local environment: stand-ins for AWS and RDS, and the app as a local process."""
