"""What invoke tasks call directly: the error-to-exit-code glue and `invoke lint`."""
