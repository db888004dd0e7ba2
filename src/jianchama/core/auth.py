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


def lockout_parameters(request, credentials=None) -> list:
    """django-axes' AXES_LOCKOUT_PARAMETERS: a password login is locked per account and address, so five
    wrong passwords from one address do not lock the owner out from his own. A phone-code login carries no
    username: ["username"] with no username makes django-axes record nothing, as before — the code's own
    attempt count (LOGIN_CODE_MAX_ATTEMPTS) and the address limit guard it."""
    if credentials and credentials.get("username"):
        return [["username", "ip_address"]]
    return ["username"]
