-- The tables of schema.prisma, as `prisma migrate` would create them (it cannot run here: see
-- schema.prisma). Keep the two in step.
create table if not exists users (
  id serial primary key,
  email text not null unique,
  name text
);

create table if not exists posts (
  id serial primary key,
  title text not null,
  published boolean not null default false,
  author_id integer not null references users (id) on update cascade on delete cascade
);

create table if not exists accounts (
  id serial primary key,
  owner text not null unique,
  balance integer not null
);

create table if not exists conformance_items (
  id integer primary key,
  label text not null
);

create table if not exists bench_items (
  id integer primary key,
  label text not null,
  n integer not null
);
