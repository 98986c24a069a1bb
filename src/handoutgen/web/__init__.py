"""The clinic web app: routes, sign-in, the render pool and live preview."""
