"""tenants: provinces, counter offices and the labour offices they serve; staff belong to
an office (clerks to a counter office); case numbers are unique per office; outbox
messages carry the office whose work they report

Existing data moves into a default province and office: every labour office gets the
province "default"; an installation with staff but no office gets an office "default";
existing secretaries and members join the first office (administrators stay national);
existing clerks join a counter office "default" serving it, and the cases clerks filed
are marked as filed through it.

Revision ID: 0014_tenants
Revises: 0018_login_factor
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_tenants"
down_revision: str | None = "0018_login_factor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provinces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name_fa", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provinces")),
        sa.UniqueConstraint("code", name=op.f("uq_provinces_code")),
    )
    op.create_table(
        "counter_offices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("province_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name_fa", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["province_id"],
            ["provinces.id"],
            name=op.f("fk_counter_offices_province_id_provinces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_offices")),
        sa.UniqueConstraint("code", name=op.f("uq_counter_offices_code")),
    )
    with op.batch_alter_table("counter_offices") as batch:
        batch.create_index(batch.f("ix_counter_offices_province_id"), ["province_id"])
    op.create_table(
        "counter_office_serves",
        sa.Column("counter_office_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counter_office_id"],
            ["counter_offices.id"],
            name=op.f("fk_counter_office_serves_counter_office_id_counter_offices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["labour_offices.id"],
            name=op.f("fk_counter_office_serves_office_id_labour_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "counter_office_id", "office_id", name=op.f("pk_counter_office_serves")
        ),
    )
    with op.batch_alter_table("labour_offices") as batch:
        batch.add_column(sa.Column("province_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("office_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("counter_office_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("counter_office_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("office_id", sa.Integer(), nullable=True))

    _move_into_defaults()

    with op.batch_alter_table("labour_offices") as batch:
        batch.alter_column("province_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            batch.f("fk_labour_offices_province_id_provinces"), "provinces", ["province_id"], ["id"]
        )
        batch.create_index(batch.f("ix_labour_offices_province_id"), ["province_id"])
    with op.batch_alter_table("users") as batch:
        batch.create_foreign_key(
            batch.f("fk_users_office_id_labour_offices"), "labour_offices", ["office_id"], ["id"]
        )
        batch.create_foreign_key(
            batch.f("fk_users_counter_office_id_counter_offices"),
            "counter_offices",
            ["counter_office_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_users_office_id"), ["office_id"])
        batch.create_index(batch.f("ix_users_counter_office_id"), ["counter_office_id"])
    with op.batch_alter_table("cases") as batch:
        batch.create_foreign_key(
            batch.f("fk_cases_counter_office_id_counter_offices"),
            "counter_offices",
            ["counter_office_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_cases_counter_office_id"), ["counter_office_id"])
        batch.drop_constraint("uq_cases_number", type_="unique")
        batch.create_unique_constraint(
            batch.f("uq_cases_office_id_number"), ["office_id", "number"]
        )
    with op.batch_alter_table("outbox_messages") as batch:
        batch.create_foreign_key(
            batch.f("fk_outbox_messages_office_id_labour_offices"),
            "labour_offices",
            ["office_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_outbox_messages_office_id"), ["office_id"])


def _move_into_defaults() -> None:
    bind = op.get_bind()
    offices = bind.execute(sa.text("SELECT id FROM labour_offices ORDER BY id")).scalars().all()
    staff = bind.execute(
        sa.text("SELECT count(*) FROM users WHERE role IN ('secretary', 'member', 'clerk')")
    ).scalar_one()
    if not offices and not staff:
        return  # a new installation: nothing to move
    bind.execute(
        sa.text(
            "INSERT INTO provinces (code, name_fa, name_en) "
            "VALUES ('default', 'استان پیش‌فرض', 'Default province')"
        )
    )
    province = bind.execute(sa.text("SELECT id FROM provinces WHERE code = 'default'")).scalar_one()
    if not offices:
        bind.execute(
            sa.text(
                "INSERT INTO labour_offices (code, name_fa, name_en, province_id) "
                "VALUES ('default', 'اداره کار پیش‌فرض', 'Default labour office', :p)"
            ),
            {"p": province},
        )
    bind.execute(sa.text("UPDATE labour_offices SET province_id = :p"), {"p": province})
    office = bind.execute(sa.text("SELECT id FROM labour_offices ORDER BY id LIMIT 1")).scalar_one()
    bind.execute(
        sa.text("UPDATE users SET office_id = :o WHERE role IN ('secretary', 'member')"),
        {"o": office},
    )
    bind.execute(sa.text("UPDATE outbox_messages SET office_id = :o"), {"o": office})
    clerks = bind.execute(sa.text("SELECT count(*) FROM users WHERE role = 'clerk'")).scalar_one()
    if not clerks:
        return
    bind.execute(
        sa.text(
            "INSERT INTO counter_offices (code, name_fa, name_en, province_id) "
            "VALUES ('default', 'دفتر پیشخوان پیش‌فرض', 'Default counter office', :p)"
        ),
        {"p": province},
    )
    counter = bind.execute(
        sa.text("SELECT id FROM counter_offices WHERE code = 'default'")
    ).scalar_one()
    bind.execute(
        sa.text("INSERT INTO counter_office_serves (counter_office_id, office_id) VALUES (:c, :o)"),
        {"c": counter, "o": office},
    )
    bind.execute(
        sa.text("UPDATE users SET counter_office_id = :c WHERE role = 'clerk'"), {"c": counter}
    )
    bind.execute(
        sa.text("UPDATE cases SET counter_office_id = :c WHERE filed_via = 'clerk'"),
        {"c": counter},
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index(batch.f("ix_outbox_messages_office_id"))
        batch.drop_constraint("fk_outbox_messages_office_id_labour_offices", type_="foreignkey")
        batch.drop_column("office_id")
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint("uq_cases_office_id_number", type_="unique")
        batch.create_unique_constraint(batch.f("uq_cases_number"), ["number"])
        batch.drop_index(batch.f("ix_cases_counter_office_id"))
        batch.drop_constraint("fk_cases_counter_office_id_counter_offices", type_="foreignkey")
        batch.drop_column("counter_office_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_index(batch.f("ix_users_counter_office_id"))
        batch.drop_index(batch.f("ix_users_office_id"))
        batch.drop_constraint("fk_users_counter_office_id_counter_offices", type_="foreignkey")
        batch.drop_constraint("fk_users_office_id_labour_offices", type_="foreignkey")
        batch.drop_column("counter_office_id")
        batch.drop_column("office_id")
    with op.batch_alter_table("labour_offices") as batch:
        batch.drop_index(batch.f("ix_labour_offices_province_id"))
        batch.drop_constraint("fk_labour_offices_province_id_provinces", type_="foreignkey")
        batch.drop_column("province_id")
    op.drop_table("counter_office_serves")
    op.drop_table("counter_offices")
    op.drop_table("provinces")
