"""Password hashing (argon2) and token signing (JWT): the service's credentials."""
