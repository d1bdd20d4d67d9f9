"""The published contract of our JSON APIs: the OpenAPI document and a page for integrators."""
