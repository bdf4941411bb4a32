"""The export request as clients send it (the seed's field names).

These models check shapes and types only; sizes, names and what is built are checked by
domain.validation, so that any request that arrives as a well-formed Avro command can be
recorded as requested and then rejected with a reason.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base of the contract's models: camelCase on the wire, unknown fields rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class ExportFormat(str, Enum):
    CSV = "CSV"
    EXCEL = "EXCEL"
    JSON = "JSON"
    NDJSON = "NDJSON"
    PARQUET = "PARQUET"


class DeliveryMethod(str, Enum):
    DOWNLOAD = "DOWNLOAD"
    S3 = "S3"
    SFTP = "SFTP"
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


class ExportStatus(str, Enum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


Scalar = StrictBool | StrictInt | StrictFloat | str
FilterValue = Scalar | list[Scalar] | None


class ColumnSpec(Model):
    name: str
    alias: str | None = None
    format: str | None = None


class FilterSpec(Model):
    column: str
    operator: str
    value: FilterValue = None


class OrderSpec(Model):
    column: str
    direction: Literal["ASC", "DESC"] = "ASC"

    @field_validator("direction", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class DateRange(Model):
    start: date
    end: date

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_part(cls, value: object) -> object:
        # The seed typed these as Date, so clients send full timestamps; the range is by day.
        if isinstance(value, str) and "T" in value:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        return value


class QueryDefinition(Model):
    source: str
    columns: list[ColumnSpec]
    filters: list[FilterSpec] = Field(default_factory=list)
    order_by: list[OrderSpec] | None = None
    date_range: DateRange | None = None


class CsvOptions(Model):
    delimiter: str = ","
    include_headers: bool = True
    quote_strings: bool = True
    date_format: str = "ISO"
    number_format: str | None = None
    null_marker: str = ""
    byte_order_mark: bool = False


class ExcelOptions(Model):
    sheet_name: str = "Data"
    include_headers: bool = True
    freeze_headers: bool = True
    auto_filter: bool = True
    # One sheet per value of this column (per month for dates and timestamps).
    sheet_by: str | None = None


class JsonOptions(Model):
    pretty: bool = False
    date_format: str = "ISO"


class ParquetOptions(Model):
    compression: str = "SNAPPY"
    # 64k rows keep a Parquet chunk near 100 MB in memory; larger groups cost memory.
    row_group_size: int = 65_536


class FormatOptions(Model):
    csv: CsvOptions | None = None
    excel: ExcelOptions | None = None
    json_: JsonOptions | None = Field(default=None, alias="json")
    parquet: ParquetOptions | None = None


class S3Delivery(Model):
    bucket: str
    key: str
    region: str | None = None
    # Names the tenant's S3 profile in configuration; credentials never travel in a request.
    profile: str = "default"


class SftpDelivery(Model):
    host: str
    port: int = 22
    username: str
    path: str
    # Names the tenant's SFTP secret (key or password) in configuration.
    secret: str = "default"


class EmailDelivery(Model):
    recipients: list[str]
    subject: str | None = None
    include_link: bool = True
    attach_file: bool = False
    max_attachment_size: int = 10 * 1024 * 1024


class WebhookDelivery(Model):
    """A signed JSON completion notice POSTed to `url` when the export ends."""

    url: str
    # Names the tenant's signing key in configuration.
    secret: str = "default"


class DeliveryConfig(Model):
    method: DeliveryMethod = DeliveryMethod.DOWNLOAD
    s3: S3Delivery | None = None
    sftp: SftpDelivery | None = None
    email: EmailDelivery | None = None
    webhook: WebhookDelivery | None = None


class ExportRequest(Model):
    """The body of `POST /v1/exports` and of the `RequestExport` command."""

    name: str
    description: str | None = None
    query_definition: QueryDefinition
    format: ExportFormat
    format_options: FormatOptions | None = None
    delivery: DeliveryConfig | None = None
    max_rows_per_file: int | None = None
    max_file_bytes: int | None = None
    compression: str = "NONE"

    def csv_options(self) -> CsvOptions:
        return (self.format_options.csv if self.format_options else None) or CsvOptions()

    def json_options(self) -> JsonOptions:
        return (self.format_options.json_ if self.format_options else None) or JsonOptions()

    def parquet_options(self) -> ParquetOptions:
        return (self.format_options.parquet if self.format_options else None) or ParquetOptions()

    def excel_options(self) -> ExcelOptions:
        return (self.format_options.excel if self.format_options else None) or ExcelOptions()

    def delivery_method(self) -> DeliveryMethod:
        return self.delivery.method if self.delivery else DeliveryMethod.DOWNLOAD
