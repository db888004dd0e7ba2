"""Authentication backend for enterprise contacts: phone number and one-time code."""

from django.contrib.auth.backends import ModelBackend

from .errors import DomainError
from .services import check_login_code


class PhoneCodeBackend(ModelBackend):
    def authenticate(self, request, phone=None, code=None, **kwargs):
        if phone is None or code is None:
            return None
        try:
            user = check_login_code(phone=phone, code=code)
        except DomainError as error:
            if request is not None:
                request.login_error = error.message
            return None
        return user if self.user_can_authenticate(user) else None
