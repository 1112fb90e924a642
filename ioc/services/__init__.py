"""IOC services started by the project when no URL is configured."""
