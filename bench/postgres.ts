/**
 * A database of a benchmark run's own on a PostgreSQL server: created empty
 * through `adminUrl` (a role that may create databases), dropped at the end,
 * whoever is still connected.
 */
import pg from 'pg';

export type BenchDatabase = { url: string; drop(): Promise<void> };

export async function benchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const name = `natter_bench_${process.pid}_${Date.now()}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
