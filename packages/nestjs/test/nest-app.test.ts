import {
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  Inject,
  Injectable,
  Module,
  type NestInterceptor,
  Param,
  ParseIntPipe,
  ServiceUnavailableException,
  UseFilters,
  UseGuards,
  UseInterceptors,
  VersioningType,
} from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Counter, Registry } from 'prom-client';
import { catchError, type Observable, throwError } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { countsOf, sampleValue } from '../../../test-kit/metrics-text.js';
import { InjectRegistry, ROUTEMETER_REGISTRY, RoutemeterModule, RoutemeterOptionError } from '../src/index.js';
import { nestMajor, platforms, type Served, serveNest } from './serve.js';

class Conflict extends Error {}

@Injectable()
class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@Catch(Conflict)
class ConflictFilter implements ExceptionFilter {
  catch(_error: Conflict, host: ArgumentsHost): void {
    // Express's res and Fastify's reply both have status() and send().
    host
      .switchToHttp()
      .getResponse<{ status(code: number): { send(body: string): void } }>()
      .status(409)
      .send('conflict');
  }
}

@Injectable()
class UnavailableInterceptor implements NestInterceptor {
  intercept(_context: unknown, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(catchError(() => throwError(() => new ServiceUnavailableException())));
  }
}

@Controller({ path: 'users', version: '1' })
class UsersV1 {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    return `user ${id}`;
  }
}

@Controller({ path: 'users', version: '2' })
class UsersV2 {
  @Get(':id')
  get(@Param('id') id: string) {
    return `user ${id}, v2`;
  }
}

/** Jobs counted by a service of the app, on routemeter's registry. */
@Injectable()
class Jobs {
  readonly done: Counter;
  constructor(@InjectRegistry() registry: Registry) {
    this.done = new Counter({ name: 'jobs_done_total', help: 'Jobs done', registers: [registry] });
  }
}

@Controller({ path: 'admin', version: '1' })
class Admin {
  constructor(@Inject(Jobs) private readonly jobs: Jobs) {}

  @Get('denied')
  @UseGuards(DenyGuard)
  denied() {
    return 'never';
  }

  @Get('conflict')
  @UseFilters(ConflictFilter)
  conflict(): never {
    throw new Conflict();
  }

  @Get('unavailable')
  @UseInterceptors(UnavailableInterceptor)
  unavailable(): never {
    throw new Error('down');
  }

  @Get('boom')
  boom(): never {
    throw new Error('boom');
  }

  @Get('job')
  job() {
    this.jobs.done.inc();
    return 'done';
  }
}

@Controller()
class Root {
  @Get('health')
  health() {
    return 'ok';
  }
}

const controllers = [UsersV1, UsersV2, Admin, Root];
/** As most Nest apps: everything under /api, URI-versioned, /health outside the prefix. */
function apiWithVersions(app: Served['app']): void {
  app.setGlobalPrefix('api', { exclude: ['health'] });
  app.enableVersioning({ type: VersioningType.URI });
}

for (const platform of platforms) {
  describe(`RoutemeterModule on nest${nestMajor} ${platform}`, () => {
    let served: Served[] = [];
    afterEach(async () => {
      await Promise.all(served.map((app) => app.close()));
      served = [];
    });

    async function start(options: Parameters<typeof RoutemeterModule.forRoot>[0] = {}) {
      const registry = new Registry();
      const app = await serveNest(
        platform,
        {
          imports: [RoutemeterModule.forRoot({ registry, defaultMetrics: false, ...options })],
          controllers,
          providers: [Jobs],
        },
        apiWithVersions,
      );
      served.push(app);
      return app;
    }

    it('labels the full template: global prefix and URI version included', async () => {
      const app = await start();
      expect((await app.send('/api/v1/users/7')).body).toBe('user 7');
      expect((await app.send('/api/v2/users/abc')).body).toBe('user abc, v2');
      expect((await app.send('/health')).status).toBe(200);
      expect(countsOf(await app.scrape())).toEqual({
        'GET /api/v1/users/:id 200': 1,
        'GET /api/v2/users/:id 200': 1,
        'GET /health 200': 1,
      });
    });

    it("counts Nest's 404s, under the prefix and outside it, as unmatched", async () => {
      const app = await start();
      const statuses = [];
      for (const path of ['/api/nope', '/api/v3/users/1', '/api', '/nope', '/health/x']) {
        statuses.push((await app.send(path)).status);
      }
      // A method the excluded route has not (Nest 12 answers it with a route of the not-found handler's).
      statuses.push((await app.send('/health', { method: 'POST' })).status);
      expect(statuses).toEqual([404, 404, 404, 404, 404, 404]);
      expect(countsOf(await app.scrape())).toEqual({ 'GET #unmatched 404': 5, 'POST #unmatched 404': 1 });
    });

    it('counts the status Nest sends through guards, pipes, filters and interceptors; a throw once as 500', async () => {
      const app = await start();
      const statuses = [];
      for (const path of [
        '/api/v1/admin/denied',
        '/api/v1/users/abc',
        '/api/v1/admin/conflict',
        '/api/v1/admin/unavailable',
        '/api/v1/admin/boom',
      ]) {
        statuses.push((await app.send(path)).status);
      }
      expect(statuses).toEqual([403, 400, 409, 503, 500]);
      const metrics = await app.scrape();
      expect(countsOf(metrics)).toEqual({
        'GET /api/v1/admin/boom 500': 1,
        'GET /api/v1/admin/conflict 409': 1,
        'GET /api/v1/admin/denied 403': 1,
        'GET /api/v1/admin/unavailable 503': 1,
        'GET /api/v1/users/:id 400': 1,
      });
      const boom = { method: 'GET', route: '/api/v1/admin/boom', status_code: '500' };
      expect(sampleValue(metrics, 'http_request_duration_seconds_count', boom)).toBe(1);
    });

    it('serves /metrics outside the global prefix, or on the metricsPath given', async () => {
      const app = await start();
      expect((await app.send('/api/metrics')).status).toBe(404);
      expect((await app.send('/metrics')).status).toBe(200);
      const moved = await start({ metricsPath: '/api/metrics' });
      expect((await moved.send('/api/metrics')).status).toBe(200);
      expect((await moved.send('/metrics')).status).toBe(404);
      expect(countsOf(await moved.scrape('/api/metrics'))).toEqual({ 'GET #unmatched 404': 1 });
    });

    it('serves /metrics to an authorised scraper only', async () => {
      const app = await start({ auth: { bearer: 'secret' } });
      expect((await app.send('/metrics')).status).toBe(401);
      const allowed = await app.send('/metrics', { headers: { authorization: 'Bearer secret' } });
      expect(allowed.status).toBe(200);
    });

    it('leaves /metrics out of the Swagger document', async () => {
      const app = await start();
      const document = SwaggerModule.createDocument(app.app, new DocumentBuilder().build());
      expect(Object.keys(document.paths).sort()).toEqual([
        '/api/v1/admin/boom',
        '/api/v1/admin/conflict',
        '/api/v1/admin/denied',
        '/api/v1/admin/job',
        '/api/v1/admin/unavailable',
        '/api/v1/users/{id}',
        '/api/v2/users/{id}',
        '/health',
      ]);
    });

    it("gives services the registry (@InjectRegistry() or the token) for the app's own metrics", async () => {
      const app = await start();
      await app.send('/api/v1/admin/job');
      await app.send('/api/v1/admin/job');
      const metrics = await app.scrape();
      expect(sampleValue(metrics, 'jobs_done_total')).toBe(2);
      expect(countsOf(metrics)).toEqual({ 'GET /api/v1/admin/job 200': 2 });
      const registry: Registry = app.app.get(ROUTEMETER_REGISTRY);
      expect(registry.getSingleMetric('jobs_done_total')).toBe(app.app.get(Jobs).done);
    });

    it('takes its options from forRootAsync: a factory, its imports and injected tokens', async () => {
      const registry = new Registry();
      @Module({ providers: [{ provide: 'METRICS_PATH', useValue: '/internal/metrics' }], exports: ['METRICS_PATH'] })
      class ConfigModule {}
      const app = await serveNest(platform, {
        imports: [
          RoutemeterModule.forRootAsync({
            imports: [ConfigModule],
            inject: ['METRICS_PATH'],
            useFactory: async (metricsPath: string) => ({ registry, defaultMetrics: false, metricsPath }),
          }),
        ],
        controllers: [Root],
      });
      served.push(app);
      await app.send('/health');
      expect(countsOf(await app.scrape('/internal/metrics'))).toEqual({ 'GET /health 200': 1 });
      expect(app.app.get(ROUTEMETER_REGISTRY)).toBe(registry);
    });

    it('fails NestFactory.create on an invalid option, naming it', async () => {
      await expect(
        serveNest(platform, { imports: [RoutemeterModule.forRoot({ maxRoutes: -1, registry: new Registry() })] }),
      ).rejects.toThrow(RoutemeterOptionError);
    });
  });
}
