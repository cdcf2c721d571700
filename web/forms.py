"""Website forms. They check shapes; the rules live in each app's services
(and, where the API already states them, its serializers)."""

from django import forms

from accounts.models import Role


class LoginForm(forms.Form):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SignupForm(forms.Form):
    role = forms.ChoiceField(
        choices=[
            (Role.CUSTOMER, "Customer — raise and follow tickets"),
            (Role.ENGINEER, "Engineer — needs an administrator's approval"),
        ],
        widget=forms.RadioSelect,
        initial=Role.CUSTOMER,
        label="I am a",
    )
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password.",
    )

    def validate_with(self, serializer_class) -> bool:
        """Validate with the API's serializer so the website and the API apply the same rules."""
        if not self.is_valid():
            return False
        serializer = serializer_class(data=self.cleaned_data)
        if serializer.is_valid():
            self.cleaned_data = dict(serializer.validated_data)
            return True
        for field, errors in serializer.errors.items():
            target = field if field in self.fields else None
            for error in errors:
                self.add_error(target, str(error))
        return False


class DecisionForm(forms.Form):
    reason = forms.CharField(max_length=2000, required=False, widget=forms.TextInput)
