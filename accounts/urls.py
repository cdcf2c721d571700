from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import api

router = SimpleRouter()
router.register("users", api.UserViewSet, basename="user")

urlpatterns = [
    path("register/", api.RegisterView.as_view(), name="register"),
    path(
        "register/resend-confirmation/",
        api.ResendConfirmationView.as_view(),
        name="register-resend-confirmation",
    ),
    path("login/", api.LoginView.as_view(), name="login"),
    path("logout/", api.LogoutView.as_view(), name="logout"),
    path("logout/all/", api.LogoutAllView.as_view(), name="logout-all"),
    path("me/", api.MeView.as_view(), name="me"),
    path("me/password/", api.PasswordChangeView.as_view(), name="me-password"),
    *router.urls,
]
