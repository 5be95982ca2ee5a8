import { describe, expect, it } from "vitest";
import { PrismaLifeguard } from "../src/index.js";
import { usePrisma } from "./helpers.js";

const h = usePrisma();

describe("CRUD through a generated client on PrismaLifeguard", () => {
  it("creates, reads, updates and deletes, with relations", async () => {
    const prisma = h.client(new PrismaLifeguard({ connectionString: h.db.url, max: 3 }));
    const ada = await prisma.user.create({
      data: {
        email: "ada@example.com",
        name: "Ada",
        posts: { create: [{ title: "Notes" }, { title: "Engines", published: true }] },
      },
    });
    expect(ada).toEqual({ id: 1, email: "ada@example.com", name: "Ada" });
    await prisma.user.createMany({
      data: [{ email: "alan@example.com" }, { email: "grace@example.com", name: "Grace" }],
    });

    expect(
      await prisma.user.findUnique({
        where: { email: "ada@example.com" },
        include: { posts: { orderBy: { id: "asc" }, select: { title: true, published: true } } },
      }),
    ).toEqual({
      id: 1,
      email: "ada@example.com",
      name: "Ada",
      posts: [
        { title: "Notes", published: false },
        { title: "Engines", published: true },
      ],
    });
    expect(await prisma.post.count({ where: { published: true } })).toBe(1);

    expect(
      await prisma.user.update({ where: { email: "alan@example.com" }, data: { name: "Alan" } }),
    ).toMatchObject({ name: "Alan" });
    expect(await prisma.post.updateMany({ data: { published: true } })).toEqual({ count: 2 });

    await prisma.user.delete({ where: { id: ada.id } });
    expect(await prisma.post.count()).toBe(0); // cascaded
    expect(
      (await prisma.user.findMany({ orderBy: { email: "asc" } })).map((user) => user.name),
    ).toEqual(["Alan", "Grace"]);
  });

  it("reports SQL errors as Prisma does, and keeps the connection", async () => {
    const adapter = new PrismaLifeguard({ connectionString: h.db.url, max: 1 });
    const prisma = h.client(adapter);
    await prisma.user.create({ data: { email: "taken@example.com" } });
    await expect(
      prisma.user.create({ data: { email: "taken@example.com" } }),
    ).rejects.toMatchObject({ code: "P2002" });
    await expect(prisma.$queryRawUnsafe("selec 1")).rejects.toMatchObject({ code: "P2010" });
    expect(await prisma.user.count()).toBe(1);
    // a statement error is not a reason to close the connection
    expect(adapter.pool.stats().counters.creates).toBe(1);
    expect(adapter.pool.stats().counters.destroys.error).toBe(0);
  });

  it("runs raw SQL with parameters", async () => {
    const prisma = h.client(new PrismaLifeguard(h.db.url));
    expect(
      await prisma.$executeRawUnsafe(
        "insert into accounts (owner, balance) values ($1, $2)",
        "a",
        5,
      ),
    ).toBe(1);
    expect(
      await prisma.$queryRawUnsafe("select owner, balance from accounts where balance > $1", 1),
    ).toEqual([{ owner: "a", balance: 5 }]);
  });
});
