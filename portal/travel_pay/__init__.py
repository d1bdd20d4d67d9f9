"""Travel claims: the model, the submission job, the token service and claims API clients."""
