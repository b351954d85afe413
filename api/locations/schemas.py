from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    aliases: list[str]


def _clean_aliases(value: object) -> object:
    # A form sends one comma-separated field; JSON a list. Lower case, as they are matched.
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, list):
        return sorted({" ".join(str(alias).split()).lower() for alias in value if str(alias).strip()})
    return value


class LocationCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Z][A-Z0-9_]*$",
                      description="upper case, e.g. TERAPEL")
    name: str = Field(min_length=1, max_length=120)
    aliases: list[str] = Field(default_factory=list, max_length=30,
                               description="names people type ('azc ter apel'), for recognising the location")

    @field_validator("code", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, value: object) -> object:
        return _clean_aliases(value)


class LocationChange(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    aliases: list[str] | None = Field(default=None, max_length=30)

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, value: object) -> object:
        return _clean_aliases(value)
