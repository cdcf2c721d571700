import django_filters
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import IDENTITY_FIELDS, ApiToken, ApprovalStatus, Role, User
from accounts.permissions import IsAdmin
from accounts.throttles import (
    ConfirmationResendThrottle,
    LoginFailureThrottle,
    PasswordChangeThrottle,
    SignupThrottle,
)
from config.fields import OptionalEmailField
from config.filters import FilterSet


class UserSerializer(serializers.ModelSerializer):
    email_confirmed = serializers.SerializerMethodField(
        help_text="False while a customer has not yet followed the link emailed to them."
    )

    def get_email_confirmed(self, user) -> bool:
        return not user.email_unconfirmed

    # An administrator created from the command line may have no email.
    email = OptionalEmailField(read_only=True)

    class Meta:
        model = User
        fields = [
            *IDENTITY_FIELDS,
            "role",
            "approval_status",
            "is_active",
            "date_joined",
            "email_confirmed",
        ]
        read_only_fields = fields


class UserAdminSerializer(serializers.ModelSerializer):
    """What an administrator may change on an account."""

    email = OptionalEmailField(required=False, max_length=254)

    class Meta:
        model = User
        fields = [f for f in UserSerializer.Meta.fields if f != "email_confirmed"] + [
            "is_available",
            "max_open_tickets",
            "approval_note",
            "timezone",
        ]
        read_only_fields = ["id", "username", "date_joined", "approval_note"]


class RegisterSerializer(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]{3,150}$",
        error_messages={
            "invalid": "Use 3–150 letters, digits and @/./+/-/_ only.",
        },
    )
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    role = serializers.ChoiceField(
        choices=Role.choices,
        error_messages={
            "invalid_choice": '"{input}" is not a role; use admin, engineer or customer.'
        },
    )
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)

    def validate_username(self, value):
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("This username is taken; choose another.")
        return value

    def validate_email(self, value):
        value = value.strip().lower()
        if selectors.email_taken(email=value):
            raise serializers.ValidationError("An account with this email already exists.")
        return value

    def validate(self, attrs):
        probe = User(
            username=attrs.get("username", ""),
            email=attrs.get("email", ""),
            first_name=attrs.get("first_name", ""),
            last_name=attrs.get("last_name", ""),
        )
        try:
            validate_password(attrs.get("password", ""), probe)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


INVALID_FIELDS = OpenApiResponse(description="a field is invalid; each is named")
DETAIL_ERROR = inline_serializer(
    "DetailError",
    {"detail": serializers.CharField(), "code": serializers.CharField()},
)


class ConfirmationSentSerializer(serializers.Serializer):
    detail = serializers.CharField()
    email = serializers.EmailField(help_text="Where the link was sent.")


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [SignupThrottle]

    @extend_schema(
        request=RegisterSerializer,
        # 429 (the sign-up throttle) is documented for every operation.
        responses={201: UserSerializer, 400: INVALID_FIELDS},
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []  # failed attempts are counted below

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: inline_serializer(
                "LoginResponse",
                {
                    "token": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                    "user": UserSerializer(),
                },
            ),
            400: DETAIL_ERROR,
            403: DETAIL_ERROR,
            429: DETAIL_ERROR,
        },
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        failures = LoginFailureThrottle()
        if not failures.allow_request(request, self):
            self.throttled(request, failures.wait())
        try:
            user = services.user_authenticate(request=request._request, **serializer.validated_data)
        except services.LoginRefused as refused:
            if refused.code == "invalid_credentials":
                failures.record_failure()
            return Response({"detail": str(refused), "code": refused.code}, status=refused.status)
        issued = services.token_issue(user=user)
        return Response(
            {
                "token": issued.key,
                "expires_at": issued.token.expires_at,
                "user": UserSerializer(user).data,
            }
        )


class ResendConfirmationView(APIView):
    """Email the confirmation link again, to the address the account waits on."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ConfirmationResendThrottle]
    allow_unconfirmed_email = True

    @extend_schema(
        request=None,
        responses={
            200: ConfirmationSentSerializer,
            401: DETAIL_ERROR,
            403: DETAIL_ERROR,
            409: DETAIL_ERROR,
            429: DETAIL_ERROR,
        },
    )
    def post(self, request):
        address = services.email_confirmation_send(user=request.user)
        return Response(
            {"detail": f"We sent a new confirmation link to {address}.", "email": address}
        )


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]
    allow_unconfirmed_email = True

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            services.token_revoke(token=request.auth)
        else:
            from django.contrib.auth import logout

            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Sign out everywhere: every API token of the account is revoked and every
    website session ends, this one included."""

    permission_classes = [IsAuthenticated]
    allow_unconfirmed_email = True

    @extend_schema(request=None, responses={204: None, 401: DETAIL_ERROR})
    def post(self, request):
        services.user_sign_out_everywhere(user=request.user)
        from django.contrib.auth import logout

        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeSerializer(serializers.Serializer):
    current_password = serializers.CharField(style={"input_type": "password"}, write_only=True)
    new_password = serializers.CharField(style={"input_type": "password"}, write_only=True)


class PasswordChangedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PasswordChangeView(APIView):
    """Change one's own password; every other token and session is signed out."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [PasswordChangeThrottle]
    allow_unconfirmed_email = True

    @extend_schema(
        request=PasswordChangeSerializer,
        # 401 and 429 are documented for every operation.
        responses={
            200: PasswordChangedSerializer,
            400: OpenApiResponse(description="current_password is wrong or new_password is weak"),
        },
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        keep = request.auth if isinstance(request.auth, ApiToken) else None
        user = services.user_password_change(
            user=request.user, keep_token=keep, **serializer.validated_data
        )
        if keep is None:
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request._request, user)
        return Response(
            {"detail": "Your password is changed; every other session has been signed out."}
        )


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    allow_unconfirmed_email = True

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class UserFilter(FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    approval_status = django_filters.ChoiceFilter(choices=ApprovalStatus.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = User
        fields = ["role", "approval_status", "is_active"]


@extend_schema_view(
    partial_update=extend_schema(
        responses={
            200: UserAdminSerializer,
            400: INVALID_FIELDS,
            401: DETAIL_ERROR,
            403: DETAIL_ERROR,
            404: DETAIL_ERROR,
            409: DETAIL_ERROR,
        },
        description="An administrator cannot demote, unapprove or deactivate themselves (409).",
    )
)
class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsAdmin]
    serializer_class = UserAdminSerializer
    filterset_class = UserFilter
    search_fields = ["username", "email", "first_name", "last_name"]
    ordering_fields = ["date_joined", "username", "role"]
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        return selectors.user_list()

    def perform_update(self, serializer):
        user = serializer.instance
        services.user_update(user=user, data=serializer.validated_data, actor=self.request.user)

    @extend_schema(request=DecisionSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, approved=True)

    @extend_schema(request=DecisionSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, approved=False)

    def _decide(self, request, *, approved: bool):
        user = self.get_object()
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_decide(
            user=user,
            approved=approved,
            decided_by=request.user,
            reason=serializer.validated_data.get("reason", ""),
        )
        return Response(UserSerializer(user).data)

    @extend_schema(responses=UserSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="registration-requests")
    def registration_requests(self, request):
        queryset = self.filter_queryset(selectors.registration_requests())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(UserSerializer(page, many=True).data)
