"""The stateless scoring endpoint for platforms that collect answers elsewhere."""
