"""HTTP routes of the embedded backend, one module per API domain (as the SDK's mixins)."""
