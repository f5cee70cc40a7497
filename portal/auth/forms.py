"""Forms of the auth pages."""

from flask_wtf import FlaskForm


class SignOutForm(FlaskForm):
    """Sign-out is a POST with a CSRF token, so another site cannot sign a user out."""
