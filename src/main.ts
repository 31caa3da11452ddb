// Process entry: open the database, migrate, bootstrap on first start, listen, close gracefully.
import { buildApp, type BuildOptions } from './app.ts';
import { bootstrapBanner, bootstrapIfEmpty } from './bootstrap.ts';
import { loadConfig, type Config } from './config.ts';
import { openDatabase } from './db/connect.ts';
import { migrateToLatest } from './db/migrate.ts';
import type { Services } from './services.ts';

/** prepare and build: seams for tests that run the real server with a service or the compute
 *  engine adjusted (crash tests). */
export async function serve(
  config: Config = loadConfig(),
  prepare?: (services: Services) => void,
  build: Pick<BuildOptions, 'engine' | 'clock'> = {},
): Promise<void> {
  let poolErrorLogger: (err: Error) => void = () => {};
  const db = openDatabase({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    pgSchema: config.pgSchema,
    onPoolError: (err) => poolErrorLogger(err),
  });
  await migrateToLatest(db);
  const { app, services } = await buildApp({ ...build, config, db });
  prepare?.(services);
  poolErrorLogger = (err) => app.log.warn({ err }, 'database connection lost; will reconnect');
  const boot = await bootstrapIfEmpty(services);
  await services.startCompute();
  services.start();
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  app.log.info(
    { database: db.location, dialect: db.dialect },
    `orgplane listening on http://${config.host}:${port}`,
  );
  if (boot) {
    process.stdout.write(
      bootstrapBanner(
        boot,
        `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
        config.port === 0 ? undefined : config.publicUrl, // port 0: only the bound address is known
      ),
    );
  }

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void app
      .close()
      .then(() => db.close())
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
